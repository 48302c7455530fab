#!/bin/sh
# make test: deploy/prometheus/fleetban.rules.yml is valid (promtool check rules), every alert in it
# has a unit test, and the unit tests pass (promtool test rules). promtool comes with Debian's
# `prometheus` package (DEB_PACKAGES): a missing promtool fails, never skips.
# Usage: check_rules.sh SOURCE_DIR
set -eu
src=${1:?usage: check_rules.sh SOURCE_DIR}
rules=$src/deploy/prometheus/fleetban.rules.yml
tests=$src/tests/prometheus/fleetban.rules.test.yml

command -v promtool >/dev/null || { echo "promtool not found: run make deps (Debian package prometheus)" >&2; exit 1; }
promtool check rules "$rules"

untested=0
for alert in $(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$rules"); do
  grep -q "alertname: *$alert *\$" "$tests" || { echo "$rules: alert $alert has no test in $tests" >&2; untested=1; }
done
[ "$untested" -eq 0 ]

promtool test rules "$tests"
