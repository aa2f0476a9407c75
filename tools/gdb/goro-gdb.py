# goro-gdb.py - gdb commands for goro programs (Go: runtime-gdb.py).
#
#   (gdb) source /usr/local/share/goro/gdb/goro-gdb.py
#   (gdb) goro goroutines        list every goroutine: id, state, wait reason,
#                                entry, creation site
#   (gdb) goro bt ID             backtrace of goroutine ID (a parked or
#                                runnable one: its registers are the ones it
#                                saved when it switched away)
#
# How it finds goroutines: every default-size stack is a slot of a chunk in
# the list 'stack.c'::pool.chunks, with the G at the top of the slot; the Gs
# of stacks of other sizes are headers in the slabs of pool.slabs, free ones
# idle (src/stack.c).  The library needs its debug information (every build
# of goro has it: it is compiled with -g).
#
# How "goro bt" works: it loads the G's saved callee-saved registers, stack
# pointer and return address (src/arch/frame.h) into the selected
# thread, prints the backtrace, and restores the thread's registers.  So it
# needs a live process (not a core file).

import gdb

CANARY_ZONE = 64
G_MAGIC = 0x676f726f2d472121  # GORO_G_MAGIC, src/runtime.h
STATES = {0: "idle", 1: "runnable", 2: "running", 3: "waiting", 4: "dead"}


def _cstr(v):
    try:
        if int(v) == 0:
            return None
        return v.string()
    except gdb.error:
        return None


def _has_chunks(t):
    t = t.strip_typedefs()
    return t.code == gdb.TYPE_CODE_STRUCT and any(f.name == "chunks" for f in t.fields())


def _usable(v):
    try:
        v.fetch_lazy()
        return not v.is_optimized_out and _has_chunks(v.type)
    except gdb.error:
        return False


def _pool():
    for expr in ("'stack.c'::pool", "pool"):
        try:
            v = gdb.parse_and_eval(expr)
        except gdb.error:
            continue
        if _usable(v):
            return v
    # Link-time optimisation renames file statics (pool.lto_priv.N) and may
    # lose their location in the debug information while keeping the type:
    # take the type from the debug information and the address from the
    # ELF symbol, and keep the candidate that looks like the stack pool.
    ptypes = [s.type for s in gdb.lookup_static_symbols("pool") if _has_chunks(s.type)]
    for ptype in ptypes:
        for n in range(32):
            try:
                addr = gdb.parse_and_eval("&'pool.lto_priv.%d'" % n)
            except gdb.error:
                continue
            v = addr.cast(ptype.pointer()).dereference()
            try:
                page = int(v["page"])
                slot = int(v["slot_size"])
            except gdb.error:
                continue
            if page >= 4096 and page & (page - 1) == 0 and slot > 0 and slot % page == 0:
                return v
    raise gdb.GdbError("goro: cannot find the stack pool (is libgoro built with -g?)")


def _wait_reason(n):
    try:
        s = gdb.parse_and_eval("goro__wait_reason_str[%d]" % n)
        return _cstr(s) or ""
    except gdb.error:
        return str(n)


def goroutines():
    """Yields gdb.Value pointers to every live G."""
    gtype = gdb.lookup_type("goro__g")
    gptr = gtype.pointer()
    pool = _pool()
    c = pool["chunks"]
    while int(c) != 0:
        base = int(c["base"])
        size = int(c["slot_size"])
        for i in range(int(c["carved"])):
            top = base + (i + 1) * size - CANARY_ZONE
            addr = (top - gtype.sizeof) & ~63
            g = gdb.Value(addr).cast(gptr)
            if int(g["magic"]) != G_MAGIC:
                continue  # reserved, not initialised yet
            st = int(g["status"])
            if st not in (0, 4):
                yield g
        c = c["next"]
    s = pool["slabs"]
    while int(s) != 0:
        gs = s["g"]
        lo, hi = gs.type.range()
        for i in range(lo, hi + 1):
            st = int(gs[i]["status"])
            if st not in (0, 4):
                yield gs[i].address
        s = s["next"]


class GoroCommand(gdb.Command):
    """Commands for goro programs: goro goroutines, goro bt ID."""

    def __init__(self):
        super().__init__("goro", gdb.COMMAND_USER, gdb.COMPLETE_NONE, True)


class GoroGoroutines(gdb.Command):
    """List goroutines: goro goroutines."""

    def __init__(self):
        super().__init__("goro goroutines", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        n = 0
        for g in goroutines():
            st = int(g["status"])
            state = STATES.get(st, str(st))
            if st == 3:
                state = _wait_reason(int(g["wait_reason"]))
            entry = _cstr(g["entry"]) or ("%#x" % int(g["fn"]))
            name = _cstr(g["name"])
            site = "%s:%d" % (_cstr(g["file"]) or "?", int(g["line"]))
            print("goroutine %d [%s] %s%s created by %s at %s" % (
                int(g["id"]), state, entry, ' "%s"' % name if name else "",
                _cstr(g["func"]) or "?", site))
            n += 1
        print("%d goroutine%s" % (n, "" if n == 1 else "s"))


# Saved-frame layouts (src/arch/frame.h): the callee-saved registers the
# frame holds, then the registers that take the resume address and the
# stack pointer.  Each register's offset, and the frame's size, come from
# the debug information's struct goro__frame (field names are register
# names, "ret" is the resume address), which frame.h pins to the offsets the
# assembly uses.
FRAMES = {
    "x86_64": (("r15", "r14", "r13", "r12", "rbx", "rbp"), "rip", "rsp"),
    "aarch64": (tuple("x%d" % r for r in range(19, 30)), "pc", "sp"),
}


def _frame_layout(regs):
    """Returns ({register: offset}, offset of the resume address, size)."""
    try:
        ftype = gdb.lookup_type("struct goro__frame")
    except gdb.error:
        raise gdb.GdbError("goro: no struct goro__frame in the debug information "
                           "(is libgoro built with -g?)")
    offs = {f.name: f.bitpos // 8 for f in ftype.fields()}
    missing = [r for r in regs + ("ret",) if r not in offs]
    if missing:
        raise gdb.GdbError("goro: struct goro__frame lacks %s" % ", ".join(missing))
    return {r: offs[r] for r in regs}, offs["ret"], ftype.sizeof


class GoroBt(gdb.Command):
    """Backtrace of a goroutine: goro bt ID."""

    def __init__(self):
        super().__init__("goro bt", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            want = int(arg.strip())
        except ValueError:
            raise gdb.GdbError("usage: goro bt ID")
        g = next((g for g in goroutines() if int(g["id"]) == want), None)
        if g is None:
            raise gdb.GdbError("goro: no goroutine %d" % want)
        if int(g["status"]) == 2:
            print("goroutine %d is running on a thread: use 'thread apply all bt'" % want)
            return
        arch = gdb.selected_frame().architecture().name()
        key = "aarch64" if "aarch64" in arch else "x86_64"
        names, pcreg, spreg = FRAMES[key]
        regs, pcoff, size = _frame_layout(names)
        sp = int(g["sp"])
        u64 = gdb.lookup_type("unsigned long").pointer()

        def load(off):
            return int(gdb.Value(sp + off).cast(u64).dereference())

        names = list(regs) + [pcreg, spreg]
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in names}
        try:
            for r, off in regs.items():
                gdb.execute("set $%s = %d" % (r, load(off)), to_string=True)
            gdb.execute("set $%s = %d" % (spreg, sp + size), to_string=True)
            gdb.execute("set $%s = %d" % (pcreg, load(pcoff)), to_string=True)
            print("goroutine %d:" % want)
            gdb.execute("bt")
        finally:
            for r in names:
                gdb.execute("set $%s = %d" % (r, saved[r]), to_string=True)
            gdb.execute("select-frame 0", to_string=True)


GoroCommand()
GoroGoroutines()
GoroBt()
