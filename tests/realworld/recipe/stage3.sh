# Layer 3: a real service. nginx-light, and a start script that writes its
# config for 127.0.0.1:$PORT (default 8080), logs requests to stdout and
# errors to stderr, and runs it in the foreground. The policy-rc.d keeps the
# package's postinst from starting nginx (on the builder's network) while it
# installs. One command per line (a Dockerfile RUN).
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -q
apt-get install -y -q --no-install-recommends nginx-light
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
mkdir -p /var/www/realworld /srv/realworld
echo 'realworld nginx: it works' >/var/www/realworld/index.html
echo 'the image config says WorkingDir is here' >/srv/realworld/WHERE
printf '%s\n' 'user www-data;' 'worker_processes 1;' 'pid /tmp/nginx.pid;' 'error_log stderr notice;' 'events { worker_connections 64; }' 'http {' '  access_log /dev/stdout;' '  server {' '    listen 127.0.0.1:@PORT@;' '    root /var/www/realworld;' '  }' '}' >/etc/nginx/realworld.conf.in
printf '%s\n' '#!/bin/sh' 'set -e' 'sed "s/@PORT@/${PORT:-8080}/" /etc/nginx/realworld.conf.in >/tmp/nginx.conf' 'exec nginx -c /tmp/nginx.conf -g "daemon off;"' >/usr/local/bin/realworld-nginx
chmod 0755 /usr/local/bin/realworld-nginx
