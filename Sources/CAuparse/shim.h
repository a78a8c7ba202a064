#include <auparse.h>
// libaudit (libauparse's own dependency): its syscall tables, by machine, for every arch.
#include <libaudit.h>
