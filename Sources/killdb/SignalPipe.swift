import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Signals reach a handler that only writes the signal's number to a pipe; a thread reads it
/// and calls `onSignal`, outside the handler, where any code may run. The signals are
/// unblocked too: auditd's dispatcher thread blocks SIGTERM and SIGHUP and exec keeps that
/// mask, and a test harness may have blocked them.
enum SignalPipe {
    nonisolated(unsafe) static var pipeWrite: Int32 = -1

    static func install(_ signals: [Int32], _ onSignal: @escaping @Sendable (Int32) -> Void) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        pipeWrite = fds[1]
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var byte = UInt8(truncatingIfNeeded: sig)
                _ = write(SignalPipe.pipeWrite, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in signals { sigaddset(&mask, sig) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        let readEnd = fds[0]
        Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                onSignal(Int32(byte))
            }
        }.start()
    }
}
