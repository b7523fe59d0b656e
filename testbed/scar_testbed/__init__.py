"""scar-ci's test bed: real AWS APIs (LocalStack, moto), real containers (udocker), a registry."""
