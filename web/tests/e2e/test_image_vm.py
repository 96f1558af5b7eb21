"""The bootable disk image under QEMU/KVM, as a VM or a kiosk PC runs it: the kernel boots,
systemd starts skerry-init as a notify service, DHCP gives the user network an address and
the HTTPS port is forwarded to the host. ci/images builds the disk and names it in
SKERRY_VM_IMAGE; without /dev/kvm these tests are skipped and say so. Where /dev/kvm exists
but KVM cannot run the guest (some nested hosts: the firmware or GRUB never gets past its
first instructions), the boot is repeated with QEMU's TCG emulation, which is slower but
boots the same disk, and the test says which it used."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import canvas_rgb, frame_to_page, stats, wait_js
from stack import free_port, http_status, wait_until
from test_fullstack import RED, settle, type_us, window_box
from test_image import ACCESS_ENV, open_logged_in, record_timing

pytestmark = pytest.mark.image

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


def vm_disk():
    disk = os.environ.get("SKERRY_VM_IMAGE")
    if not disk:
        pytest.skip("SKERRY_VM_IMAGE is not set: ci/images builds the disk image and runs these tests")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is missing or not usable: the VM image test needs KVM")
    if shutil.which("qemu-system-x86_64") is None:
        pytest.fail("qemu-system-x86_64 is missing: ci/images installs it (image/host-packages.txt)")
    return disk


class VM:
    """One QEMU of the disk (changes go to a temporary overlay, the disk stays as built)."""

    def __init__(self, disk, uefi=False, accel="kvm", env=None):
        self.name = ("qemu-uefi" if uefi else "qemu-bios") + "-" + accel
        self.accel = accel
        self.dir = Path(tempfile.mkdtemp(prefix="skerry-vm-"))
        self.port = free_port()
        self.log_path = self.dir / "serial.log"
        # Settings reach the appliance through QEMU's fw_cfg (image/vm/overlay: vm-settings).
        settings = self.dir / "skerry.env"
        settings.write_text("".join(f"{k}={v}\n" for k, v in {**ACCESS_ENV, **(env or {})}.items()))
        argv = [
            "qemu-system-x86_64",
            *(["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg", "-cpu", "max"]),
            "-smp", "2", "-m", "2048",
            "-display", "none", "-no-reboot",
            "-serial", f"file:{self.log_path}",
            "-drive", f"file={disk},if=virtio,snapshot=on",
            "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{self.port}-:3000",
            "-fw_cfg", f"name=opt/skerry/env,file={settings}",
        ]
        if uefi:
            vars_copy = self.dir / "OVMF_VARS.fd"
            shutil.copy(OVMF_VARS, vars_copy)
            argv += [
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}",
            ]
        self.started = time.monotonic()
        self.popen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(self.dir / "qemu.log", "w"))

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/"

    @property
    def returncode(self):
        return self.popen.returncode

    def poll(self):
        return self.popen.poll()

    def log_tail(self, lines=60):
        text = ""
        for p in (self.dir / "qemu.log", self.log_path):
            if p.exists():
                text += f"--- {p.name} ---\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def serial(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def vms():
    made = []

    def boot(disk, **kw):
        vm = VM(disk, **kw)
        made.append(vm)
        return vm

    yield boot
    for vm in made:
        vm.stop()


class _Desktop:
    def __init__(self, vm):
        class _Streamer:
            url = vm.url
            proc = vm

        self.streamer = _Streamer()


def boot_and_type(browser, vms, uefi):
    disk = vm_disk()
    if uefi and not (OVMF_CODE.exists() and OVMF_VARS.exists()):
        pytest.fail(f"{OVMF_CODE} is missing: ci/images installs ovmf (image/host-packages.txt)")
    # A terminal with a flat background the test can find on the canvas.
    env = {"SKERRY_APP": f"foot -o colors.background={RED} -o csd.preferred=client -o cursor.blink=no sh"}
    vm = vms(disk, uefi=uefi, env=env)
    # Under working KVM the appliance answers within a minute of power-on. Some nested hosts
    # offer /dev/kvm yet never get the guest's kernel going (this machine's does GRUB, then
    # nothing): after two minutes without an answer the same disk boots again under TCG,
    # and the test says so.
    kvm_deadline = time.monotonic() + 120
    while http_status(vm.url + "readyz") != 200 and vm.poll() is None and time.monotonic() < kvm_deadline:
        time.sleep(1)
    if http_status(vm.url + "readyz") != 200:
        reached = "GRUB, then nothing" if "GNU GRUB" in vm.serial() else "not even GRUB"
        print(f"KVM booted {reached} in 120 s ({vm.log_tail(3).strip()[-200:]}); booting with TCG")
        vm.stop()
        vm = vms(disk, uefi=uefi, accel="tcg", env=env)
    limit = 60 if vm.accel == "kvm" else 900
    wait_until(lambda: http_status(vm.url + "readyz") == 200, limit, "the VM's appliance to be ready", vm)
    ready = time.monotonic()
    desktop = _Desktop(vm)
    page, _ = open_logged_in(browser, desktop)
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    record_timing(
        ("vm-uefi-" if uefi else "vm-bios-") + vm.accel,
        ready_s=round(ready - vm.started, 2),
        first_frame_s=round(time.monotonic() - vm.started, 2),
    )

    # The terminal named through fw_cfg is on screen; typing into it writes files in the download folder
    # on the data partition, which the page then downloads: one word, and the root's mount
    # options (it is mounted read-only).
    settle(page, desktop)
    box = wait_until(lambda: window_box(canvas_rgb(page), RED, tol=12), 60, "the terminal on the canvas", vm)
    page.mouse.click(*frame_to_page(page, (box[0] + box[2]) // 2, (box[1] + box[3]) // 2))
    word = "skerry" + secrets.token_hex(4)
    type_us(page, "mkdir -p /config/Desktop\n")
    type_us(page, "findmnt -no OPTIONS / > /config/Desktop/root.txt\n")
    type_us(page, f"echo {word} > /config/Desktop/typed.txt\n")

    def download(name):
        # Listed first, so the page never asks for a file that is not there yet.
        return page.evaluate(
            """async (name) => {
                const list = await (await fetch('/api/files')).json();
                if (!list.files.some((f) => f.path === name)) return null;
                return await (await fetch('/api/files/' + name)).text();
            }""",
            name,
        )

    wait_until(lambda: (download("typed.txt") or "").strip() == word, 60, f"typed.txt with {word} in the VM", vm)
    root = download("root.txt")
    assert root and root.strip().split(",")[0] == "ro", f"the VM's root is mounted {root!r}"
    assert stats(page)["connectedState"] == "live"


def test_vm_image_boots_by_bios_and_serves_the_desktop(browser, vms):
    boot_and_type(browser, vms, uefi=False)


def test_vm_image_boots_by_uefi_and_serves_the_desktop(browser, vms):
    boot_and_type(browser, vms, uefi=True)
