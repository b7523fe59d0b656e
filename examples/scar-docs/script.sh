#!/bin/sh
# init_script of the image-runtime examples: report the input and the architecture.
set -eu
echo "running on $(uname -m)"
if [ -n "${INPUT_FILE_PATH:-}" ]; then
  echo "input: $INPUT_FILE_PATH ($(wc -c < "$INPUT_FILE_PATH") bytes)"
fi
