/* The execve loop's program: static, so that the loop measures exec itself and not ld.so. */
int main(void)
{
	return 0;
}
