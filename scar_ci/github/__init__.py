"""GitHub integration: context, annotations, job summary, outputs, PR comments."""
