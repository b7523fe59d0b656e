#!/bin/sh
# Second step of the video workflow: object detection on one extracted frame.
set -eu
name="$(basename "$INPUT_FILE_PATH")"
cd /opt/darknet
./darknet detect cfg/yolov3-tiny.cfg yolov3-tiny.weights "$INPUT_FILE_PATH" \
  > "$TMP_OUTPUT_DIR/$name.txt"
