#!/bin/sh
# The OSCAR service script SCAR's documented FDL example names (see scar-docs-fdl-example.yaml).
echo "$INPUT_FILE_PATH"
