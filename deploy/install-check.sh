#!/bin/bash
# deploy/install-check.sh: docs/OPERATIONS.md's steps 2-9 as one script, on ONE Debian 12 machine
# that is both the aggregator and a host (web-01's role, with this machine's hostname as host_id),
# with Debian's Fail2Ban. Run it as root on a fresh machine to try fleetban, or read it as the
# worked example of the steps: tests/install (make test-install) runs exactly this script in a
# freshly booted Debian 12 container, so it cannot drift from what works.
#
#   bash install-check.sh ./fleetban_0.1.0-1_amd64.deb
#
# It installs the package and Fail2Ban, makes the keys (aggregator, this host, an operator
# `admin`), writes the configs, starts both services and the fleet jail, adds the fleetban action
# to the sshd jail, and checks that the services run and `fleetban status` reaches the
# aggregator. It stops at the first step that fails (set -e) and says which.
set -euo pipefail

deb=${1:?usage: install-check.sh ./fleetban_VERSION_ARCH.deb}
host=$(hostname)
keys=/etc/fleetban/keys
auth=/etc/fleetban/authorized
examples=/usr/share/doc/fleetban/examples
step() { printf '\n=== %s\n' "$*"; }
# fail2ban.service is Type=simple: its socket answers a moment after systemctl returns.
wait_fail2ban() {
    for _ in $(seq 100); do fail2ban-client ping >/dev/null 2>&1 && return 0; sleep 0.2; done
    fail2ban-client ping
}
trap 'echo "install-check: FAILED at: $BASH_COMMAND (line $LINENO)" >&2' ERR

step "2. install the package, Fail2Ban and python3-systemd (for the sshd jail's journal backend)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$deb" fail2ban python3-systemd
getent passwd fleetban

step "Debian 12's Fail2Ban without rsyslog: the sshd jail reads the journal, not /var/log/auth.log"
# Fail2Ban's default sshd jail (jail.d/defaults-debian.conf) watches /var/log/auth.log, which
# only rsyslog writes; without it Fail2Ban refuses to start ("Have not found any log file").
if [ ! -e /var/log/auth.log ]; then
    printf '[sshd]\nbackend = systemd\n' >/etc/fail2ban/jail.d/sshd-journal.local
fi
# Its default firewall action is iptables'; Debian 12 installs nftables (fail2ban recommends it)
# and no iptables: use nftables' actions then.
if ! command -v iptables >/dev/null; then
    printf '[DEFAULT]\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\n' \
        >/etc/fail2ban/jail.d/banaction-nftables.local
fi
systemctl restart fail2ban
wait_fail2ban

step "3. keys: the aggregator's, this host's ($host), an operator's (admin)"
fleetban keygen aggregator --dir "$keys"
chown fleetban:fleetban "$keys/aggregator.key"
fleetban keygen "$host" --dir "$keys"
install -m 0640 -o root -g fleetban "$keys/$host.pub" "$auth/$host.pub"
install -d -m 0700 /root/.config/fleetban
fleetban keygen admin --dir /root/.config/fleetban
install -m 0640 -o root -g fleetban /root/.config/fleetban/admin.pub "$auth/operators/admin.pub"

step "4. configs: aggregator.toml and host.toml from the examples"
install -m 0640 -o root -g fleetban "$examples/aggregator.toml" /etc/fleetban/aggregator.toml
install -m 0600 "$examples/host.toml" /etc/fleetban/host.toml
# This machine is the whole fleet: the aggregator on 127.0.0.1, this host's own key, the fail2ban
# backend, no exec commands, no host allowlist.
sed -i -e "s|^host_id .*|host_id    = \"$host\"|" \
    -e 's|^aggregator .*|aggregator = "tcp://127.0.0.1:7780"|' \
    -e 's|^broadcast .*|broadcast  = "tcp://127.0.0.1:7781"|' \
    -e "s|^client_key .*|client_key = \"$keys/$host.key\"|" \
    -e '/^ban_command/d' -e '/^unban_command/d' \
    -e 's|^allowlist .*|allowlist       = []|' /etc/fleetban/host.toml
# The operator's own config: the same, with the operator's key.
sed -e 's|^client_key .*|client_key = "/root/.config/fleetban/admin.key"|' /etc/fleetban/host.toml \
    >/root/.config/fleetban/admin.toml
chmod 0600 /root/.config/fleetban/admin.toml

step "6. start the aggregator"
systemctl enable --now fleetban-aggregator
systemctl is-active fleetban-aggregator

step "7. the fleet jail, then the subscriber"
cp "$examples/jail.d/fleetban.local" /etc/fail2ban/jail.d/
fail2ban-client reload
fail2ban-client status fleetban
systemctl enable --now fleetban-subscriber
systemctl is-active fleetban-subscriber

step "8. publish the sshd jail's bans to the fleet"
printf '[sshd]\naction = %%(action_)s\n         fleetban[config=/etc/fleetban/host.toml]\n' \
    >/etc/fail2ban/jail.d/fleetban-publish.local
# A plain `fail2ban-client reload` does not add an action to a running jail (Fail2Ban 1.0.2):
# restart that jail (its bans come back from Fail2Ban's database).
fail2ban-client reload --restart sshd
fail2ban-client get sshd actions | grep fleetban >/dev/null  # not -q: see tests/install/checks.sh

step "9. check that it works"
fleetban status --config /etc/fleetban/host.toml
journalctl -u fleetban-aggregator -u fleetban-subscriber --no-pager -n 20 -o cat
echo "install-check: fleetban is installed and running on $host"
