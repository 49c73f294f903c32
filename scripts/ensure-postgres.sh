#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at 127.0.0.1:5432 with trust auth for user postgres,
# as the tests expect (TEST_POSTGRES_URL). Starts the machine's cluster if it is stopped;
# installs Debian's postgresql if there is none (CI starts from a bare machine).
set -euo pipefail

up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if up; then exit 0; fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian package)..."
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
# Trust local TCP connections: this cluster only serves tests on this machine.
if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    $sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
$sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || $sudo pg_ctlcluster "$version" main start
for _ in $(seq 50); do up && exit 0; sleep 0.2; done
echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
