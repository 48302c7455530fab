#!/bin/sh
# Checks the man pages made from docs/REFERENCE.md: each one is built, renders without a single
# groff or man warning at 80 columns, has a NAME line whatis can read, and names every flag that
# its program's --help (and each subcommand's --help) lists.
#
#   check_man_pages.sh MAN_DIR BIN_DIR
set -u
man_dir=$1 bin_dir=$2
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# The long flags a --help output lists (CLI11 prints "-h,--help", "--ip TEXT REQUIRED", ...).
flags_of() { "$@" --help 2>&1 | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u; }

# The page's troff source with escapes and font changes taken out, so that "\-\-ip" is "--ip".
page_text() { gzip -dc "$1" | sed -e 's/\\-/-/g' -e 's/\\f\[[A-Z]*\]//g' -e 's/\\f[A-Z]//g'; }

check_page() { # NAME SECTION PROGRAM [SUBCOMMAND...]
  name=$1 section=$2 program=$3
  shift 3
  page="$man_dir/$name.$section.gz"
  if [ ! -s "$page" ]; then
    fail "$page was not built"
    return
  fi
  gzip -t "$page" || fail "$page is not a valid gzip file"
  warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "$page renders with warnings: $warnings"
  rendered=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
  [ -n "$rendered" ] || fail "$page renders as nothing"
  whatis=$(lexgrog "$page" 2>&1) || fail "$page: whatis cannot read its NAME section: $whatis"
  case $whatis in
    *"\"$name - "*) ;;
    *) fail "$page: NAME section is not \"$name - summary\": $whatis" ;;
  esac
  [ -n "$program" ] || return
  text=$(page_text "$page")
  for flag in $(flags_of "$bin_dir/$program"); do
    printf '%s\n' "$text" | grep -qF -- "$flag" || fail "$page does not mention $flag (from $program --help)"
  done
  for sub in "$@"; do
    for flag in $(flags_of "$bin_dir/$program" "$sub"); do
      printf '%s\n' "$text" | grep -qF -- "$flag" || fail "$page does not mention $flag (from $program $sub --help)"
    done
  done
}

check_page fleetban-publish 1 fleetban-publish ban unban
check_page fleetban 1 fleetban keygen list ban unban status
check_page fleetban-aggregator 8 fleetban-aggregator
check_page fleetban-subscriber 8 fleetban-subscriber
check_page fleetban-relay 8 fleetban-relay
check_page fleetban.toml 5 ""

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "man pages OK"
