fn main() -> std::process::ExitCode {
    aim::cli::run()
}
