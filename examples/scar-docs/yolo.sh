#!/bin/sh
# Object detection with darknet's YOLO on the uploaded image; the detections and the
# annotated image go to the output folder.
set -eu
name="$(basename "$INPUT_FILE_PATH")"
cd /opt/darknet
./darknet detect cfg/yolo.cfg yolo.weights "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name.txt"
cp predictions.jpg "$TMP_OUTPUT_DIR/$name.predictions.jpg"
