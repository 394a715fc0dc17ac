fn main() -> std::process::ExitCode {
    let cli = pod_server::cli::Cli::parse_args();
    pod_server::cli::install_telemetry(&cli);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pod: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pod_server::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pod: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
