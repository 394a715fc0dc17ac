//! SMTP faults: a server that refuses mail (4xx, 5xx) or accepts the
//! connection and stalls. Each fails the delivery with `DeliveryFailed`
//! (which cancels the order), the stalled one within the configured
//! timeout; a working server on the same port delivers the next code.

use pod_ports::testing::smtp_faults::{SmtpBehaviour, SmtpServer};

use super::*;

#[tokio::test]
async fn refusing_or_stalled_smtp_servers_fail_delivery_and_recovery_delivers() {
    let env = Env::new().await;
    let demo = cid("local|demo");
    let dest = email("demo@example.com");
    for behaviour in [
        SmtpBehaviour::Refuse("451 4.3.0 try again later"),
        SmtpBehaviour::Refuse("554 5.7.1 refused"),
        SmtpBehaviour::Stall,
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let faulty = SmtpServer::start_on(listener, behaviour);
        let mut config = SmtpConfig::new(format!("smtp://{addr}"), "pod@example.com");
        config.timeout = Duration::from_millis(500);
        let codes = env.codes_with(
            Arc::new(OsCodeGenerator),
            vec![Arc::new(SmtpDelivery::new(&config).unwrap())],
        );
        let result = send(&codes, &demo, &dest, &order("o-1")).await;
        assert!(
            matches!(result, Err(CodeError::DeliveryFailed(_))),
            "{behaviour:?}: {result:?}"
        );
        assert!(faulty.messages().is_empty(), "{behaviour:?}");
        assert_eq!(faulty.port(), addr.port());

        // The server is fixed, on the same address.
        faulty.stop().await;
        let fixed = SmtpServer::start_on(
            std::net::TcpListener::bind(addr).unwrap(),
            SmtpBehaviour::Accept,
        );
        send(&codes, &demo, &dest, &order("o-2")).await.unwrap();
        assert_eq!(fixed.messages().len(), 1, "{behaviour:?}");
    }
}
