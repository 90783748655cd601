# Doxygen input filter for scripts/apidoc.sh: the public headers document
# their declarations with plain C comments (STYLE: a doc comment on every
# public declaration, written as /* ... */), which Doxygen ignores. This
# reads a header and prints it with those comments turned into Doxygen's
# forms, line for line (warnings keep their line numbers):
#   - the file's first comment becomes the file's description (@file);
#   - a comment that starts a line becomes /** (documents what follows),
#     except section rulers ("/* ---- ... */");
#   - a comment after code on the same line becomes /**< (documents the
#     member or enum value it ends).
# The headers themselves are never changed.
BEGIN { first = 1; infirst = 0 }
{
    line = $0
    if (first && line ~ /^\/\* /) {
        sub(/^\/\*/, "/**", line)
        first = 0
        infirst = 1
    } else if (first && line !~ /^[ \t]*$/) {
        first = 0
    } else if (line ~ /^[ \t]*\/\*[^*!-]/ && line !~ /^[ \t]*\/\* *--/) {
        sub(/\/\*/, "/**", line)
    } else if (line ~ /[^ \t\/][ \t]+\/\*[^*!<]/ && line !~ /^[ \t]*#/) {
        sub(/[ \t]+\/\*/, " /**<", line)
    }
    if (infirst && line ~ /\*\//) {
        sub(/\*\//, "@file */", line)
        infirst = 0
    }
    print line
}
