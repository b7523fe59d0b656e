#!/bin/sh
# init_script of the cowsay examples: the cow says what it runs.
/usr/games/cowsay "init script running in $(hostname)"
