# For Packer 1.7 and later, which installs the ansible provisioner as a plugin (`packer init examples/packer`).
# Packer 1.6 has the provisioner built in and does not know required_plugins: it is given app-image.pkr.hcl alone.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    ansible = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/ansible"
    }
  }
}
