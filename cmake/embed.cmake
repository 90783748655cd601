# Write INPUT's bytes as a C array: `const char NAME[]` (NUL-terminated)
# and `const unsigned long NAME_len`, into OUTPUT. Run with cmake -P.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  " bytes "${bytes}")
file(WRITE "${OUTPUT}" "/* Generated from ${INPUT} by cmake/embed.cmake. */\n"
     "const char ${NAME}[] = {\n  ${bytes}0x00};\n"
     "const unsigned long ${NAME}_len = ${len};\n")
