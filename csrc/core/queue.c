/* queue: the task-queue API of cos.h (list, pause, restart, cancel, list-update). Stubs until
 * the task queue is written: tasks run as soon as they start; nothing can be paused. */
#include "client.h"

cos_value *cos_task_list(cos_client *c)
{
    (void)c;
    return cos_arr_new();
}

int cos_task_pause(cos_client *c, cos_task_id id)
{
    (void)c;
    (void)id;
    return -1;
}

int cos_task_restart(cos_client *c, cos_task_id id)
{
    (void)c;
    (void)id;
    return -1;
}

int cos_task_cancel(cos_client *c, cos_task_id id)
{
    (void)c;
    (void)id;
    return -1;
}

void cos_on_list_update(cos_client *c, void (*fn)(void *ud, cos_value *list), void *ud)
{
    c->list_update_fn = fn;
    c->list_update_ud = ud;
}
