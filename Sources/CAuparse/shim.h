#include <auparse.h>
