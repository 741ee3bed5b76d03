//! Turning a stack overflow in a task into a panic of that task, instead of
//! a `SIGSEGV` that kills the test process.
//!
//! A task's stack ends in a guard page (corosensei's `DefaultStack`); a
//! task that recurses too deep touches it and the kernel raises `SIGSEGV`.
//! A process-wide handler, installed once on an alternate signal stack,
//! looks at the thread's running coroutine ([`Trap`], set around every
//! resume). If the faulting stack pointer is on that coroutine's stack and
//! the faulting address in its guard page, the handler uses corosensei's
//! trap mechanism (`CoroutineTrapHandler::setup_trap_handler`): it rewrites
//! the interrupted registers so that, when the handler returns, the
//! coroutine abandons its stack and returns [`Exit::StackOverflow`] to the
//! executor, which reports it as a panic of the task. Any other fault goes
//! to the handler that was installed before, so ordinary crashes and std's
//! own "has overflowed its stack" message on the main stack are unchanged.
//!
//! Only on Linux on x86_64 and aarch64, where we know how to read and write
//! the interrupted registers. Elsewhere the functions here do nothing, and
//! an overflow still kills the process.

#![allow(unsafe_code)]

use super::TaskCoroutine;

/// How a task's body left its coroutine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exit {
    /// The body returned (or panicked, which unwinds through `resume`).
    Returned,
    /// The body overflowed its stack and was abandoned: its frames were
    /// neither unwound nor dropped.
    #[cfg_attr(
        not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )),
        allow(dead_code)
    )]
    StackOverflow,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(super) use linux::{prepare_thread, Trap};

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub(super) use elsewhere::{prepare_thread, Trap};

/// The platform-specific side: the signal handler, the alternate signal
/// stack, and the thread's running coroutine.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod linux {
    use super::{Exit, TaskCoroutine};
    use corosensei::stack::{DefaultStack, Stack};
    use corosensei::trap::{CoroutineTrapHandler, TrapHandlerRegs};
    use libc::{c_int, c_void, siginfo_t, ucontext_t};
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Once, OnceLock};
    use std::{io, mem, ptr};

    /// What the signal handler needs to know about the running coroutine.
    #[derive(Clone, Copy)]
    pub(in crate::stackful) struct Trap {
        handler: CoroutineTrapHandler<Exit>,
        /// The guard page: `[guard_start, guard_end)`, the lowest page of
        /// the stack's mapping.
        guard_start: usize,
        guard_end: usize,
    }

    impl Trap {
        /// The trap of `coroutine`, whose stack's mapping starts at
        /// `stack_limit` (taken before the stack moved into it). Corosensei's
        /// `DefaultStack` keeps one guard page there; if a stack ever had
        /// more, a fault past the first would not be recognised and would
        /// crash the process as before, never be misreported.
        pub(in crate::stackful) fn new(coroutine: &TaskCoroutine, stack_limit: usize) -> Trap {
            let page_bytes = PAGE_BYTES.load(Ordering::Relaxed);
            debug_assert!(page_bytes > 0, "prepare_thread ran first");
            Trap {
                handler: coroutine.trap_handler(),
                guard_start: stack_limit,
                guard_end: stack_limit + page_bytes,
            }
        }

        /// The lowest address of `stack`'s mapping, where its guard page
        /// starts.
        pub(in crate::stackful) fn stack_limit(stack: &DefaultStack) -> usize {
            stack.limit().get()
        }

        /// Makes `trap` the running coroutine's until the returned value is
        /// passed to [`Trap::leave`]. `None` when nothing runs on a task
        /// stack.
        #[inline]
        pub(in crate::stackful) fn enter(trap: Option<Trap>) -> Option<Trap> {
            RUNNING.replace(trap)
        }

        /// Restores the trap that was running before [`Trap::enter`].
        #[inline]
        pub(in crate::stackful) fn leave(previous: Option<Trap>) {
            RUNNING.set(previous);
        }
    }

    thread_local! {
        /// The trap of the coroutine running on this thread. Read by the
        /// signal handler: a `const`-initialised `Cell` of a `Copy` type
        /// without `Drop` is a plain `#[thread_local]` static, with no lazy
        /// initialisation or destructor registration, so reading it is
        /// async-signal-safe.
        static RUNNING: Cell<Option<Trap>> = const { Cell::new(None) };
        /// Whether this thread has an alternate signal stack (its own, or
        /// ours in `ALTERNATE_STACK`).
        static THREAD_READY: Cell<bool> = const { Cell::new(false) };
        /// The alternate signal stack racecheck installed on this thread,
        /// if the thread had none.
        static ALTERNATE_STACK: RefCell<Option<AlternateStack>> = const { RefCell::new(None) };
    }

    /// The size of the alternate signal stacks racecheck installs: the
    /// handler itself needs little, but a chained handler (std's) prints.
    const ALTERNATE_STACK_BYTES: usize = 64 * 1024;

    static INSTALL: Once = Once::new();
    static PAGE_BYTES: AtomicUsize = AtomicUsize::new(0);
    /// The `SIGSEGV` and `SIGBUS` actions before ours, to chain to.
    static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

    /// Makes this thread ready to run coroutines whose overflows are
    /// caught: the process-wide handler installed, and an alternate signal
    /// stack for it (a handler cannot run on the stack that overflowed).
    #[inline]
    pub(in crate::stackful) fn prepare_thread() {
        if !THREAD_READY.get() {
            prepare_thread_slow();
        }
    }

    #[cold]
    fn prepare_thread_slow() {
        INSTALL.call_once(install_handler);
        ensure_alternate_stack();
        THREAD_READY.set(true);
    }

    fn install_handler() {
        // SAFETY: `sysconf` has no preconditions.
        let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page_bytes = usize::try_from(page_bytes).expect("racecheck: sysconf(_SC_PAGESIZE)");
        assert!(page_bytes.is_power_of_two());
        PAGE_BYTES.store(page_bytes, Ordering::Relaxed);
        // SAFETY: a zeroed `sigaction` is a valid (empty) value; the calls
        // only query the current actions into it.
        let previous = unsafe {
            let mut previous: [libc::sigaction; 2] = mem::zeroed();
            for (signal, slot) in [libc::SIGSEGV, libc::SIGBUS].into_iter().zip(&mut previous) {
                check(libc::sigaction(signal, ptr::null(), slot), "query");
            }
            previous
        };
        // Saved before ours is installed, so the handler always finds it.
        assert!(PREVIOUS.set(previous).is_ok(), "installed once");
        // SAFETY: `on_fault` has the `SA_SIGINFO` signature, and it only
        // does async-signal-safe work (see its comments).
        unsafe {
            let mut action: libc::sigaction = mem::zeroed();
            action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            for signal in [libc::SIGSEGV, libc::SIGBUS] {
                check(libc::sigaction(signal, &action, ptr::null_mut()), "install");
            }
        }
    }

    fn check(status: c_int, what: &str) {
        assert!(
            status == 0,
            "racecheck: cannot {what} the stack-overflow signal handler: {}",
            io::Error::last_os_error()
        );
    }

    /// An alternate signal stack mapped by racecheck, with a guard page
    /// below it.
    struct AlternateStack {
        mapping: *mut c_void,
        mapping_bytes: usize,
    }

    impl Drop for AlternateStack {
        fn drop(&mut self) {
            // SAFETY: the mapping is ours. It is unregistered first (if it
            // is still the thread's alternate stack), so no signal can be
            // delivered on it once it is unmapped.
            unsafe {
                let mut current: libc::stack_t = mem::zeroed();
                libc::sigaltstack(ptr::null(), &mut current);
                let usable = self
                    .mapping
                    .cast::<u8>()
                    .add(PAGE_BYTES.load(Ordering::Relaxed));
                if current.ss_sp == usable.cast() {
                    let disable = libc::stack_t {
                        ss_sp: ptr::null_mut(),
                        ss_flags: libc::SS_DISABLE,
                        ss_size: ALTERNATE_STACK_BYTES,
                    };
                    libc::sigaltstack(&disable, ptr::null_mut());
                }
                libc::munmap(self.mapping, self.mapping_bytes);
            }
        }
    }

    /// Std gives the main thread and the threads it spawns an alternate
    /// signal stack (when its own overflow handler is installed); threads
    /// started otherwise may have none, and get one here.
    fn ensure_alternate_stack() {
        // SAFETY: queries only.
        let current = unsafe {
            let mut current: libc::stack_t = mem::zeroed();
            check(libc::sigaltstack(ptr::null(), &mut current), "query");
            current
        };
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let page_bytes = PAGE_BYTES.load(Ordering::Relaxed);
        let mapping_bytes = ALTERNATE_STACK_BYTES + page_bytes;
        // SAFETY: a fresh anonymous mapping, owned by the `AlternateStack`
        // from here on; its lowest page is made a guard page, the rest is
        // registered as this thread's alternate signal stack.
        unsafe {
            let mapping = libc::mmap(
                ptr::null_mut(),
                mapping_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert!(
                mapping != libc::MAP_FAILED,
                "racecheck: cannot map an alternate signal stack: {}",
                io::Error::last_os_error()
            );
            let stack = AlternateStack {
                mapping,
                mapping_bytes,
            };
            check(
                libc::mprotect(mapping, page_bytes, libc::PROT_NONE),
                "guard",
            );
            let alternate = libc::stack_t {
                ss_sp: mapping.cast::<u8>().add(page_bytes).cast(),
                ss_flags: 0,
                ss_size: ALTERNATE_STACK_BYTES,
            };
            check(libc::sigaltstack(&alternate, ptr::null_mut()), "register");
            ALTERNATE_STACK.set(Some(stack));
        }
    }

    /// The `SIGSEGV`/`SIGBUS` handler. Runs on the alternate signal stack
    /// and does only async-signal-safe work: reads a thread-local `Cell`,
    /// compares addresses, writes a few words to the faulting coroutine's
    /// stack and to `context`, or chains to the previous handler.
    unsafe extern "C" fn on_fault(signal: c_int, info: *mut siginfo_t, context: *mut c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` and `ucontext_t` to
        // an `SA_SIGINFO` handler, and nothing else aliases them here.
        let (address, context) = unsafe {
            (
                (*info).si_addr() as usize,
                &mut *context.cast::<ucontext_t>(),
            )
        };
        if let Some(trap) = RUNNING.get() {
            let in_guard = (trap.guard_start..trap.guard_end).contains(&address);
            if in_guard && trap.handler.stack_ptr_in_bounds(stack_pointer(context)) {
                // SAFETY: `RUNNING` is set only while its coroutine runs on
                // this thread (between `Trap::enter` and `Trap::leave`
                // around `resume`), so the coroutine is alive, and the
                // interrupted stack pointer is inside it, as checked. We
                // write every register `TrapHandlerRegs` names into the
                // interrupted context below.
                //
                // `setup_trap_handler` also asks that the coroutine not
                // have been writing memory outside its stack in a way that
                // matters, since it will never finish those writes. A task
                // body writes shared memory freely, so this holds only in
                // the sense that matters to racecheck: the overflowing
                // execution is over. The task's poll reports it as a panic,
                // no code of that task runs again, and its frames are
                // abandoned without unwinding (their destructors never run
                // — a leak, like `mem::forget`) and its stack is unmapped,
                // not reused. What the abandoned frames held (a lock, a
                // `RefCell` borrow, a node pinned on the stack and linked
                // into a shared list) stays as the fault left it, and only
                // the teardown of that execution, which drops the other
                // tasks, can still see it. See the module docs of
                // `stackful` for this caveat.
                let registers = unsafe { trap.handler.setup_trap_handler(|| Exit::StackOverflow) };
                set_registers(context, registers);
                return;
            }
        }
        // SAFETY: forwarding the kernel's arguments, unchanged.
        unsafe { chain(signal, info, context) }
    }

    /// Hands a fault that is not a task's stack overflow to the action
    /// installed before ours, as if ours were not there.
    ///
    /// # Safety
    /// Only from the signal handler, with the kernel's arguments.
    unsafe fn chain(signal: c_int, info: *mut siginfo_t, context: &mut ucontext_t) {
        let index = usize::from(signal == libc::SIGBUS);
        let previous = PREVIOUS.get().map(|previous| previous[index]);
        let handler = previous.map_or(libc::SIG_DFL, |previous| previous.sa_sigaction);
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Put the previous action back and return: the faulting
            // instruction runs again and faults under it (for a fault,
            // both mean the process dies of the signal), as without
            // racecheck.
            let reset: libc::sigaction = previous.unwrap_or_else(|| {
                // SAFETY: a zeroed `sigaction` is `SIG_DFL` with no flags.
                unsafe { mem::zeroed() }
            });
            // SAFETY: `reset` is a valid action.
            unsafe { libc::sigaction(signal, &reset, ptr::null_mut()) };
            return;
        }
        let flags = previous.map_or(0, |previous| previous.sa_flags);
        let context: *mut c_void = (context as *mut ucontext_t).cast();
        if flags & libc::SA_SIGINFO != 0 {
            // SAFETY: with `SA_SIGINFO`, the installed value is a
            // three-argument handler, called as the kernel would.
            unsafe {
                let previous: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
                    mem::transmute(handler);
                previous(signal, info, context);
            }
        } else {
            // SAFETY: without `SA_SIGINFO`, it is a one-argument handler.
            unsafe {
                let previous: extern "C" fn(c_int) = mem::transmute(handler);
                previous(signal);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn stack_pointer(context: &ucontext_t) -> usize {
        context.uc_mcontext.gregs[libc::REG_RSP as usize] as usize
    }

    #[cfg(target_arch = "aarch64")]
    fn stack_pointer(context: &ucontext_t) -> usize {
        context.uc_mcontext.sp as usize
    }

    #[cfg(target_arch = "x86_64")]
    fn set_registers(context: &mut ucontext_t, registers: TrapHandlerRegs) {
        let TrapHandlerRegs {
            rip,
            rsp,
            rbp,
            rdi,
            rsi,
        } = registers;
        let gregs = &mut context.uc_mcontext.gregs;
        gregs[libc::REG_RIP as usize] = rip as i64;
        gregs[libc::REG_RSP as usize] = rsp as i64;
        gregs[libc::REG_RBP as usize] = rbp as i64;
        gregs[libc::REG_RDI as usize] = rdi as i64;
        gregs[libc::REG_RSI as usize] = rsi as i64;
    }

    #[cfg(target_arch = "aarch64")]
    fn set_registers(context: &mut ucontext_t, registers: TrapHandlerRegs) {
        let TrapHandlerRegs {
            pc,
            sp,
            x0,
            x1,
            x29,
            lr,
        } = registers;
        let mcontext = &mut context.uc_mcontext;
        mcontext.pc = pc;
        mcontext.sp = sp;
        mcontext.regs[0] = x0;
        mcontext.regs[1] = x1;
        mcontext.regs[29] = x29;
        mcontext.regs[30] = lr;
    }
}

/// Elsewhere: nothing is caught, and an overflow kills the process as a
/// stack overflow on any thread does.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod elsewhere {
    use super::TaskCoroutine;
    use corosensei::stack::DefaultStack;

    #[derive(Clone, Copy)]
    pub(in crate::stackful) struct Trap;

    impl Trap {
        pub(in crate::stackful) fn new(_coroutine: &TaskCoroutine, _stack_limit: usize) -> Trap {
            Trap
        }

        pub(in crate::stackful) fn stack_limit(_stack: &DefaultStack) -> usize {
            0
        }

        #[inline]
        pub(in crate::stackful) fn enter(_trap: Option<Trap>) -> Option<Trap> {
            None
        }

        #[inline]
        pub(in crate::stackful) fn leave(_previous: Option<Trap>) {}
    }

    #[inline]
    pub(in crate::stackful) fn prepare_thread() {}
}
