/* fake_conn: a stand-in for libmicrohttpd connections in the unit tests of what parks them
 * (lib/http/parking.h and its users): the lot's suspend/resume are replaced by fakes that count
 * per connection (parking_set_conn_ops(lot, fake_suspend, fake_resume)). */
#ifndef CQ_TEST_FAKE_CONN_H
#define CQ_TEST_FAKE_CONN_H

struct MHD_Connection;

struct fake_conn {
    int suspended, resumed;
};

static inline void fake_suspend(struct MHD_Connection *c)
{
    ((struct fake_conn *)(void *)c)->suspended++;
}

static inline void fake_resume(struct MHD_Connection *c)
{
    ((struct fake_conn *)(void *)c)->resumed++;
}

#define CONN(fc) ((struct MHD_Connection *)(void *)(fc))

#endif
