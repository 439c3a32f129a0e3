#!/bin/sh
echo "$GREETING"
cat /app/built.txt /app/layers.txt
