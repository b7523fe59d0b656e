#!/bin/sh
# Count the words of the input file; the count goes to <name>.count and to the answer.
name="${INPUT_FILE_PATH##*/}"
wc -w < "$INPUT_FILE_PATH" | tr -d ' ' > "$TMP_OUTPUT_DIR/$name.count"
cat "$TMP_OUTPUT_DIR/$name.count"
