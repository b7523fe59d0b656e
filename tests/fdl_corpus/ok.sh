#!/bin/sh
# The one script that exists in the corpus: it lets a file check pass.
echo ok
