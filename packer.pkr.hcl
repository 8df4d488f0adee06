# Edge appliance disk image (Packer 1.6 compatible HCL2: no `packer init`, no `required_plugins`; the
# qemu builder and shell-local are built into Packer 1.6.6 from Debian).
#
# Normally run by image/build.sh, which first builds the Debian bookworm base disk with mmdebstrap
# (image/rootfs.sh + image/assemble.sh: GPT with ESP, rootfs A/B, data; GRUB for BIOS and UEFI) and the
# payload (forwarder, broker). Packer boots that base disk under QEMU, installs the payload over SSH,
# verifies the running system, seals it, and converts the result to raw + compressed qcow2.
#
#   packer build -var flavour=test packer.pkr.hcl
#   packer build -var flavour=production -var kafka_sha512=<sha512> packer.pkr.hcl

variable "flavour" {
  type        = string
  default     = "test"
  description = "test: TEST-ONLY mock-librdkafka broker instead of Kafka (builds anywhere); production: Apache Kafka from the pinned archive."

  validation {
    condition     = var.flavour == "test" || var.flavour == "production"
    error_message = "The flavour must be \"test\" or \"production\"."
  }
}

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "kafka_version" {
  type        = string
  default     = "3.9.1"
  description = "Apache Kafka version (production flavour). Archive: kafka_<scala>-<version>.tgz."
}

variable "kafka_scala_version" {
  type    = string
  default = "2.13"
}

variable "kafka_sha512" {
  type        = string
  default     = ""
  description = "SHA-512 of the Kafka archive, from https://downloads.apache.org/kafka/<version>/<archive>.sha512 (required for production)."

  validation {
    condition     = length(var.kafka_sha512) == 0 || (length(var.kafka_sha512) == 128 && length(regex_replace(lower(var.kafka_sha512), "[0-9a-f]", "")) == 0)
    error_message = "The kafka_sha512 must be empty or 128 hex digits."
  }
}

variable "kafka_archive" {
  type        = string
  default     = ""
  description = "Local path of the Kafka archive; empty = download from kafka_mirror. Checked against kafka_sha512 either way."
}

variable "kafka_mirror" {
  type    = string
  default = "https://archive.apache.org/dist/kafka"
}

variable "kafka_heap_mb" {
  type    = number
  default = 512
}

variable "uefi" {
  type        = bool
  default     = false
  description = "Boot the build VM with OVMF (UEFI) instead of SeaBIOS; the image boots both ways."
}

variable "out_dir" {
  type    = string
  default = "image/out"
}

variable "memory" {
  type    = number
  default = 1024
}

variable "cpus" {
  type    = number
  default = 2
}

locals {
  image_name  = var.flavour == "test" ? "appliance-test-${var.version}" : "appliance-${var.version}"
  base_image  = "${var.out_dir}/base-${var.flavour}.qcow2"
  payload_dir = "${var.out_dir}/payload-${var.flavour}"
  output_dir  = "${var.out_dir}/packer-${var.flavour}"
  firmware    = var.uefi ? [["-bios", "/usr/share/qemu/OVMF.fd"]] : []
  # Fail before booting anything when a production build has no pinned Kafka archive (Packer 1.6 has
  # no cross-variable validation; reading a file named after the problem prints this message).
  kafka_pin = var.flavour == "production" && var.kafka_sha512 == "" ? file("ERROR: the production flavour needs -var kafka_sha512=<SHA-512 of kafka_${var.kafka_scala_version}-${var.kafka_version}.tgz> (and -var kafka_archive=<path> when offline)") : var.kafka_sha512
}

source "qemu" "appliance" {
  iso_url          = "file://${abspath(local.base_image)}"
  iso_checksum     = "file:${abspath(local.base_image)}.sha256"
  disk_image       = true
  use_backing_file = false
  skip_resize_disk = true
  skip_compaction  = true
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  # /dev/kvm exists on the build machines but KVM does not work there (nested PVM): software emulation.
  accelerator      = "tcg"
  headless         = true
  memory           = var.memory
  cpus             = var.cpus
  output_directory = local.output_dir
  vm_name          = "${local.image_name}.qcow2"
  qemuargs         = concat([["-serial", "file:${var.out_dir}/packer-${var.flavour}-serial.log"]], local.firmware)

  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = "${var.out_dir}/keys/build_ed25519"
  ssh_timeout          = "10m"
  shutdown_command     = "systemctl poweroff"
  shutdown_timeout     = "5m"
}

build {
  sources = ["source.qemu.appliance"]

  # Checks the payload built by image/payload.sh (production: the Kafka archive against kafka_sha512).
  provisioner "shell-local" {
    inline = ["image/payload.sh --check ${var.flavour}"]
    environment_vars = [
      "APPLIANCE_OUT_DIR=${var.out_dir}",
      "KAFKA_VERSION=${var.kafka_version}",
      "KAFKA_SCALA_VERSION=${var.kafka_scala_version}",
      "KAFKA_SHA512=${local.kafka_pin}",
      "KAFKA_ARCHIVE=${var.kafka_archive}",
      "KAFKA_MIRROR=${var.kafka_mirror}",
    ]
  }

  provisioner "shell" {
    inline = [
      "systemctl is-system-running --wait || systemctl --failed --no-pager",
      "systemd-analyze time",
    ]
  }

  # Directory sources without a trailing slash land as /var/tmp/payload-<flavour> and /var/tmp/provision
  # (/tmp is a small tmpfs on the appliance).
  provisioner "file" {
    source      = local.payload_dir
    destination = "/var/tmp"
  }

  provisioner "file" {
    source      = "image/provision"
    destination = "/var/tmp"
  }

  provisioner "shell" {
    environment_vars = [
      "FLAVOUR=${var.flavour}",
      "PAYLOAD_DIR=/var/tmp/payload-${var.flavour}",
      "IMAGE_VERSION=${var.version}",
      "IMAGE_NAME=${local.image_name}",
      "KAFKA_VERSION=${var.kafka_version}",
      "KAFKA_HEAP_MB=${var.kafka_heap_mb}",
    ]
    inline = [
      "bash /var/tmp/provision/install.sh",
      "bash /var/tmp/provision/verify.sh",
      "bash /var/tmp/provision/seal.sh",
    ]
  }

  post-processor "shell-local" {
    inline = ["image/finalize.sh ${local.output_dir}/${local.image_name}.qcow2 ${var.out_dir}"]
  }
}
