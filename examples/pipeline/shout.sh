#!/bin/sh
# Upper-case the input file into the output folder, under the same name.
name="${INPUT_FILE_PATH##*/}"
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
echo "shouted $name"
