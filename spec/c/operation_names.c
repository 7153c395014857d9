/* Prints the names cos_operation_name lists, one a line, as a C program linked against libcos
 * sees them (operations_spec.lua compares them with the Lua module's core.operations). */
#include <stdio.h>

#include "cos.h"

int main(void)
{
    for (size_t i = 0; cos_operation_name(i); i++) puts(cos_operation_name(i));
    return 0;
}
