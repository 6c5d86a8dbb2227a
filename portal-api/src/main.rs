//! `gpubroker`: the server and its command line.

use clap::Parser;
use portal_api::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(boot) => {
            let cfg = boot.load()?;
            portal_api::telemetry::init(cfg.log_format);
            let server = portal_api::server::start(&cfg).await?;
            println!("gpubroker is running in SANDBOX mode at {}", server.url());
            println!("  web UI:   {}/", server.url());
            println!(
                "  API:      {}/api/v1/offers   (guide: docs/API.md)",
                server.url()
            );
            for (what, l) in [("admin", &server.admin), ("demo user", &server.demo)] {
                match &l.password {
                    Some(p) => println!("  {what:<9} {}  password: {p}", l.email),
                    None => println!("  {what:<9} {}  (password unchanged; set it with the environment to reset)", l.email),
                }
            }
            println!(
                "  data:     {} ({})",
                cfg.data_dir.display(),
                if cfg.database_url().starts_with("sqlite") {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
            );
            server.wait().await;
        }
        Command::Migrate(boot) => {
            let cfg = boot.load()?;
            portal_api::telemetry::init(cfg.log_format);
            std::fs::create_dir_all(&cfg.data_dir)?;
            let db = broker::Db::connect(&cfg.database_url()).await?;
            db.migrate().await?;
            println!(
                "migrations applied to {}",
                if cfg.database_url().starts_with("sqlite") {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
            );
        }
        other => {
            portal_api::telemetry::init(portal_api::config::LogFormat::Pretty);
            portal_api::cli::run_client(other).await?;
        }
    }
    Ok(())
}
