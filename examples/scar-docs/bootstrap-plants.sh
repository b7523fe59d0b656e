#!/bin/sh
# Batch job bootstrap: fetch the classification script from the bucket, then run it, so the
# job definition stays under AWS Batch's 24 KB limit.
set -eu
script=/tmp/plant-classification-run.sh
wget -q -O "$script" "https://scar-plants.s3.amazonaws.com/plant-classification-run.sh"
sh "$script"
