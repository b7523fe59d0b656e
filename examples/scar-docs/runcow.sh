#!/bin/sh
# run_script of the cowsay examples: the cow shows the container's environment.
env | sort | /usr/games/cowsay -n
