#!/bin/sh
# The cow says the request body (API POST), else COW_MESSAGE, else a fortune.
if [ -n "${INPUT_FILE_PATH:-}" ] && [ -s "$INPUT_FILE_PATH" ]; then
  /usr/games/cowsay < "$INPUT_FILE_PATH"
elif [ -n "${COW_MESSAGE:-}" ]; then
  /usr/games/cowsay "$COW_MESSAGE"
else
  /usr/games/fortune | /usr/games/cowsay
fi
