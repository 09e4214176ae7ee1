# An app image built with Packer's docker builder and ansible provisioner, provisioned by the
# appenv.python collection (its appenv.python.image playbook, through image.yml here).
#
#   packer build -var-file=my.pkrvars.hcl examples/packer/app-image.pkr.hcl        # Packer 1.6 (tested)
#   packer init examples/packer && packer build -var-file=my.pkrvars.hcl examples/packer   # Packer 1.7 and later
#
# Current Packer installs its ansible provisioner as a plugin: versions.pkr.hcl beside this file declares it
# (required_plugins), and `packer init`/`packer build` on the directory read both files. Packer 1.6, which has
# the provisioner built in, does not know required_plugins: give it this file alone.
# The collection reaches the provisioner's ansible through ANSIBLE_COLLECTIONS_PATH (an installed collection), or
# through galaxy_file (a requirements.yml naming it) and collections_path (where Packer installs it).
# Variables name the base image, where the runtime archives and packages come from, and the app.
# tests/integration/test_packer.py builds it against the test bed and runs the app in the image.

variable "base_image" {
  type    = string
  default = "appenv-test/debian:bookworm-amd64"
}

variable "image_repository" {
  type    = string
  default = "appenv-example/app"
}

variable "image_tag" {
  type    = string
  default = "latest"
}

variable "runtime_mirror" {
  type = string
}

variable "runtime_release" {
  type = string
}

variable "index_url" {
  type = string
}

variable "app_src" {
  type        = string
  description = "The app's directory on the machine running Packer (code + requirements.txt)."
}

variable "galaxy_file" {
  type        = string
  default     = ""
  description = "A requirements.yml naming appenv.python (tarball or git); Packer runs ansible-galaxy on it first."
}

variable "collections_path" {
  type        = string
  default     = ""
  description = "Where Packer installs the collections of galaxy_file (passed to ansible-playbook as well)."
}

variable "layer_cache" {
  type        = string
  default     = ""
  description = "A directory on the machine running Packer used as the controller-side layer cache."
}

variable "layer_cache_hmac_key" {
  type        = string
  default     = ""
  sensitive   = true
  description = "The secret that signs and checks the layer cache's entries (layer_cache.hmac_key)."
}

source "docker" "app" {
  image  = var.base_image
  pull   = false
  commit = true
  # --network host: the build reaches a mirror and index served on the build machine's loopback.
  run_command = ["-d", "-i", "-t", "--network=host", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  changes = [
    "ENV APPENV_ENV_FILE=/etc/appenv/app.env",
    # The build container ran with --entrypoint=/bin/sh, which the commit keeps: reset it explicitly.
    "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
    "CMD [\"set -a; . /etc/appenv/app.env; exec $APPENV_PYTHON /srv/app/app.py\"]",
  ]
}

build {
  sources = ["source.docker.app"]

  provisioner "ansible" {
    playbook_file    = "${path.root}/image.yml"
    user             = "root"
    galaxy_file      = var.galaxy_file
    collections_path = var.collections_path
    extra_arguments = [
      "--extra-vars", "appenv_runtime_mirror=${var.runtime_mirror} appenv_runtime_release=${var.runtime_release}",
      "--extra-vars", "appenv_runtime_index_url=${var.index_url} appenv_app_index_url=${var.index_url}",
      "--extra-vars", "appenv_app_src=${var.app_src} appenv_layer_cache_dir=${var.layer_cache}",
      "--extra-vars", "appenv_layer_cache_hmac_key=${var.layer_cache_hmac_key}",
    ]
    # Packer 1.6's proxy adapter offers only ssh-rsa keys, which current OpenSSH clients refuse by default.
    ansible_env_vars = [
      "ANSIBLE_HOST_KEY_CHECKING=False",
      "ANSIBLE_NOCOLOR=1",
      "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=60s -o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa",
    ]
  }

  post-processor "docker-tag" {
    repository = var.image_repository
    tags       = [var.image_tag]
  }
}
