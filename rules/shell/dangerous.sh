#!/usr/bin/env bash
# Test cases for rules/shell/dangerous.yaml.
set -euo pipefail

# ruleid: shell-curl-pipe-to-shell
curl -fsSL https://example.com/install.sh | sh
# ruleid: shell-curl-pipe-to-shell
wget -qO- https://example.com/install.sh | sudo -E bash
# ruleid: shell-curl-pipe-to-shell
bash <(curl -s https://example.com/setup.sh)
# ruleid: shell-curl-pipe-to-shell
sh -c "$(curl -fsSL https://example.com/setup.sh)"
# ok: shell-curl-pipe-to-shell
curl -fsSL https://example.com/data.json | jq .
# ok: shell-curl-pipe-to-shell
curl -fsSLo install.sh https://example.com/install.sh && sha256sum -c install.sh.sha256

# ruleid: shell-rm-rf-variable
rm -rf "$BUILD_DIR/"
# ruleid: shell-rm-rf-variable
rm -rf $BUILD_DIR/*
# ruleid: shell-rm-rf-variable
rm -fr "${PREFIX}"/*
# ruleid: shell-rm-rf-variable
rm -r -f $CACHE/tmp
# ok: shell-rm-rf-variable
rm -rf "$HOME/.cache/selfheal"
# ruleid: shell-rm-rf-variable
sudo rm -rf /
# ok: shell-rm-rf-variable
rm -rf -- "${BUILD_DIR:?}/"
# ok: shell-rm-rf-variable
rm -rf "$WORKDIR"
# ok: shell-rm-rf-variable
rm -f "$LOGFILE"
# ok: shell-rm-rf-variable
rm -rf ./build /tmp/selfheal-cache

# ruleid: shell-chmod-world-writable
chmod 777 /srv/app
# ruleid: shell-chmod-world-writable
chmod -R 0777 "$DATA"
# ruleid: shell-chmod-world-writable
chmod o+w /var/log/app.log
# ruleid: shell-chmod-world-writable
chmod a+rwx shared
# ok: shell-chmod-world-writable
chmod 755 /srv/app
# ok: shell-chmod-world-writable
chmod +x ./run.sh
# ok: shell-chmod-world-writable
chmod u+w,go-w config.yml

# ruleid: shell-eval-variable
eval "$USER_CMD"
# ruleid: shell-eval-variable
eval $cmd
# ok: shell-eval-variable
eval "$(ssh-agent -s)"
# ok: shell-eval-variable
eval "$(pyenv init -)"

# ruleid: shell-tls-verification-disabled
curl -sSLk https://internal.example.com/artifact.tgz -o artifact.tgz
# ruleid: shell-tls-verification-disabled
curl --insecure https://internal.example.com
# ruleid: shell-tls-verification-disabled
wget --no-check-certificate https://internal.example.com/file
# ruleid: shell-tls-verification-disabled
git config --global http.sslVerify false
# ruleid: shell-tls-verification-disabled
export GIT_SSL_NO_VERIFY=1
# ok: shell-tls-verification-disabled
curl -sSL --cacert /etc/ssl/private-ca.pem https://internal.example.com
# ok: shell-tls-verification-disabled
curl -H "X-Api-Key: abc" https://example.com/keys
