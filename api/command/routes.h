/* routes: the command API's route table. */
#ifndef CQ_COMMAND_ROUTES_H
#define CQ_COMMAND_ROUTES_H

#include "http/router.h"

extern const struct route command_routes[];
extern const size_t command_nroutes;

#endif
