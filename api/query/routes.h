/* routes: the query API's route table. */
#ifndef CQ_QUERY_ROUTES_H
#define CQ_QUERY_ROUTES_H

#include "http/router.h"

extern const struct route query_routes[];
extern const size_t query_nroutes;

#endif
