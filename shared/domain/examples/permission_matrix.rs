//! Prints the permission matrix as Markdown (the table in docs/permissions.md).
fn main() {
    print!("{}", kushim_domain::access::matrix_markdown());
}
