#!/bin/sh
# Converts the input image to grayscale with ImageMagick; the result is uploaded from
# $TMP_OUTPUT_DIR and, for API calls, also returned as the response body.
set -eu
output="$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"
convert "$INPUT_FILE_PATH" -type Grayscale "$output"
cat "$output"
