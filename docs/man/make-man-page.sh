#!/bin/sh
# Cuts one man page out of docs/REFERENCE.md and renders it with pandoc, gzipped as Debian wants.
#
#   make-man-page.sh REFERENCE.md NAME SECTION VERSION OUT.gz     (PANDOC: the pandoc to run)
#
# REFERENCE.md stays the one source: the page NAME(SECTION) is the part under the heading
# "## NAME(SECTION): summary" up to the next "## " heading. Its "###" headings become the page's
# sections (.SH), "####" its subsections (.SS), and the summary its NAME line ("NAME - summary",
# what whatis and apropos read).
set -eu
reference=$1 name=$2 section=$3 version=$4 out=$5

page=$(awk -v heading="## ${name}(${section}): " '
  /^```/ { code = !code }
  !code && /^## / {
    if (index($0, heading) == 1) {
      inside = 1
      summary = substr($0, length(heading) + 1)
      print "# NAME\n\n" name_of(heading) " - " summary "\n"
      next
    }
    inside = 0
  }
  inside && !code && /^###+ / {
    sub(/^##/, "")
    if ($0 ~ /^# /) $0 = toupper($0)
  }
  inside { print }
  function name_of(h) { h = substr(h, 4); sub(/\(.*/, "", h); return h }
' "$reference")
if [ -z "$page" ]; then
  echo "make-man-page.sh: no heading '## ${name}(${section}): ...' in $reference" >&2
  exit 1
fi

tmp="$out.tmp"
printf '%s\n' "$page" |
  "${PANDOC:-pandoc}" --standalone --from markdown --to man \
    --metadata title="$name" --metadata section="$section" \
    --metadata header="fleetban manual" --metadata footer="fleetban $version" \
    --output "$tmp"
# -n: no name or time stamp in the gzip header, so the package is reproducible (lintian).
gzip -9n -c "$tmp" >"$out"
rm -f "$tmp"
