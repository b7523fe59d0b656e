#!/bin/sh
# Splits the uploaded video into one image per second; each image triggers the next function.
set -eu
name="$(basename "$INPUT_FILE_PATH" | sed 's/\.[^.]*$//')"
ffmpeg -loglevel error -i "$INPUT_FILE_PATH" -vf fps=1 "$TMP_OUTPUT_DIR/$name-%03d.jpg"
