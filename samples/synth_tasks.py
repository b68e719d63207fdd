"""Processes of the synthetic kernel: init_task's list of task_structs, their mm_structs and
process PGDs, init_mm, init_files and init_cred -- one function per structure, shared by the
small machines (:mod:`samples.synthkernel`) and the large images (:mod:`samples.large_image`).

Layouts are those of :mod:`samples.synth_layout` (the ISF describes the same offsets).
"""
from __future__ import annotations

import struct
from typing import Callable

from .synth_layout import (
    CRED_SIZE,
    FILES_SIZE,
    MM,
    MM_SIZE,
    PF_KTHREAD,
    TASK,
    TASK_SIZE,
    u64,
)
from .synth_memory import PhysMem

TASK_SPECS: list[tuple[int, str, bool]] = [  # (pid, comm, kernel thread), init_task first
    (0, "swapper/0", True), (1, "systemd", False), (2, "kthreadd", True),
    (3, "rcu_gp", True), (17, "kworker/0:1", True), (245, "systemd-journal", False),
    (512, "sshd", False), (1337, "swsusp-hibernat", False)]
HIBERNATING_PID = 1337       # the task that wrote the image: its mm->pgd is the image's cr3


def user_task_indices() -> list[int]:
    """Indices into TASK_SPECS of the user processes (the tasks that have an mm)."""
    return [i for i, (_, _, kthread) in enumerate(TASK_SPECS) if not kthread]


def _struct(size: int, layout: dict[str, int], values: dict[str, bytes]) -> bytes:
    """A struct of ``size`` bytes: each value at its field's offset, zeros elsewhere."""
    b = bytearray(size)
    for name, data in values.items():
        b[layout[name]:layout[name] + len(data)] = data
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# address spaces
def pgd_alloc(mem: PhysMem, pgd_pa: int, kernel_pgd_pa: int) -> None:
    """A process PGD as pgd_alloc() makes it: the kernel half (entries 256..511) copied from
    init_top_pgt, the user half empty."""
    mem.write(pgd_pa + 256 * 8, mem.read(kernel_pgd_pa + 256 * 8, 256 * 8))


def user_mm_struct(pgd_va: int) -> bytes:
    """A user process's mm_struct (MM_SIZE bytes) whose pgd is ``pgd_va``."""
    return _struct(MM_SIZE, MM, {"pgd": u64(pgd_va), "map_count": struct.pack("<i", 5),
                                 "start_code": struct.pack("<QQ", 0x400000, 0x402000),
                                 "start_stack": u64(0x7FFC12345FF0)})


def init_mm_struct(init_top_pgt_va: int) -> bytes:
    """init_mm: the kernel's own mm_struct (pgd = swapper_pg_dir)."""
    return _struct(MM_SIZE, MM, {"pgd": u64(init_top_pgt_va), "map_count": struct.pack("<i", 1)})


def init_files_struct() -> bytes:
    """init_files: count 3 and a recognisable tag."""
    files = bytearray(FILES_SIZE)
    files[0:4] = struct.pack("<i", 3)
    files[0x20:0x28] = b"filesst\0"
    return bytes(files)


def init_cred_struct() -> bytes:
    """init_cred: usage 8, every id 0 (root)."""
    return struct.pack("<i", 8).ljust(CRED_SIZE, b"\0")


# ---------------------------------------------------------------------------------------------
# task_structs
def task_struct(i: int, task_va: list[int], mm: int, kva: Callable[[str], int],
                dva: Callable[[int], int]) -> bytes:
    """The task_struct of TASK_SPECS[i] at ``task_va[i]`` in a circular ``tasks`` list of
    ``task_va``; ``mm`` is its mm_struct VA (0 for a kernel thread: active_mm = init_mm)."""
    pid, comm, kthread = TASK_SPECS[i]
    n = len(task_va)
    nxt, prv = task_va[(i + 1) % n], task_va[(i - 1) % n]
    parent = task_va[0] if pid in (0, 1, 2) else (task_va[2] if kthread else task_va[1])
    return _struct(TASK_SIZE, TASK, {
        "__state": struct.pack("<I", 0 if pid in (0, HIBERNATING_PID) else 1),
        "stack": u64(dva(0x4000 * (i + 1) + 0x10000000)),
        "flags": struct.pack("<I", PF_KTHREAD if kthread else 0x400100),
        "tasks": u64(nxt + TASK["tasks"]) + u64(prv + TASK["tasks"]),
        "mm": u64(mm),
        "active_mm": u64(mm or kva("init_mm")),
        "pid": struct.pack("<ii", pid, pid),                           # pid, tgid
        "real_parent": u64(parent) + u64(parent),                      # real_parent, parent
        "children": u64(task_va[i] + TASK["children"]) * 2,
        "sibling": u64(task_va[i] + TASK["sibling"]) * 2,
        "group_leader": u64(task_va[i]),
        "start_time": u64(pid * 1000003) + u64(pid * 1000003),        # start_(boot)time
        "real_cred": u64(kva("init_cred")) * 2,                        # real_cred, cred
        "comm": comm.encode()[:15].ljust(16, b"\0"),
        "files": u64(kva("init_files")),
    })


def write_task_list(mem: PhysMem, kpa: Callable[[str], int], kva: Callable[[str], int],
                    dva: Callable[[int], int], task_pa: list[int],
                    mm_of: dict[int, int]) -> list[tuple[int, str, int]]:
    """Write init_mm, init_files, init_cred and the TASK_SPECS task_structs (a circular
    ``tasks`` list from init_task) into ``mem``.  ``task_pa[0]`` is kpa("init_task"), the others
    are direct-map (slab) addresses; ``mm_of`` maps a TASK_SPECS index to its mm_struct VA
    (kernel threads have none).  Returns [(pid, comm, task_struct VA)]."""
    assert len(task_pa) == len(TASK_SPECS) and task_pa[0] == kpa("init_task")
    task_va = [kva("init_task")] + [dva(pa) for pa in task_pa[1:]]
    mem.write(kpa("init_mm"), init_mm_struct(kva("init_top_pgt")))
    mem.write(kpa("init_files"), init_files_struct())
    mem.write(kpa("init_cred"), init_cred_struct())
    tasks_out = []
    for i, (pid, comm, _) in enumerate(TASK_SPECS):
        mem.write(task_pa[i], task_struct(i, task_va, mm_of.get(i, 0), kva, dva))
        tasks_out.append((pid, comm, task_va[i]))
    return tasks_out
