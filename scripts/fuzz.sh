#!/bin/sh
echo "fuzz: not set up yet" >&2
exit 1
