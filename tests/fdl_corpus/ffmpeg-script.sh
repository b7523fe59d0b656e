#!/bin/sh
# init_script of SCAR's complete FDL example: convert the input to WAV.
set -eu
ffmpeg -loglevel error -i "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").wav"
