#!/usr/bin/env bash
# Regenerates java.txt: the Dubbo frames Java Dubbo 3.3.6 writes with its
# protobuf-json serialization (id 21, GenericProtobufJsonSerialization of
# dubbo-serialization-protobuf 3.2.0, JsonFormat of protobuf-java-util
# 3.25.8), one "name hex" line each: the frames of ../protobuf plus
# request-escapes (a string with what JsonFormat escapes). The recorder is
# ../protobuf/java/Record.java run with -Dserialization=protobuf-json;
# --check DIR/c-*.hex has Java decode frames our encoder wrote.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERIALIZATION=protobuf-json OUT="$here/java.txt" exec "$here/../protobuf/regenerate.sh" "$@"
