//! A mail's end carries the next mail's MAIL, RCPT and DATA (RFC 2920), on
//! a real SMTP server: what the fan-out does a million times, one mail at a
//! time, including the guesses that turn out wrong.

use std::time::{Duration, Instant};

use candor::delivery::mailer::{Formatted, Mailer, SmtpMailer};
use lettre::{message::Mailbox as To, Address, Message};

use crate::helpers::mailbox::Mailbox;

fn mail_to(address: &str) -> Formatted {
    let message = Message::builder()
        .from("status@candor.test".parse::<To>().unwrap())
        .to(address.parse::<To>().unwrap())
        .subject(format!("For {address}"))
        .body(format!(
            "Hello {address}\r\n.a line that starts with a dot\r\n"
        ))
        .unwrap();
    (&message).into()
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

/// One connection: every mail goes out on lane 0.
fn mailer(mailbox: &Mailbox) -> SmtpMailer {
    SmtpMailer::from_url(&mailbox.url(), 1, Duration::from_secs(5)).unwrap()
}

/// Each mail came to its own envelope and says so in its To header, whole.
fn assert_whole(mailbox: &Mailbox, address: &str) {
    let mails = mailbox.mails_to(address);
    assert_eq!(mails.len(), 1, "{address}: {:?}", mailbox.mails());
    assert_eq!(mails[0].header("To"), Some(address));
    assert_eq!(mails[0].subject, format!("For {address}"));
    assert!(
        mails[0].text.contains(".a line that starts with a dot"),
        "{}",
        mails[0].text
    );
}

#[tokio::test]
async fn mails_announced_one_by_the_one_before_arrive_whole_each_to_its_own_address() {
    let mailbox = Mailbox::start();
    let mailer = mailer(&mailbox);
    let addresses = ["a@example.test", "b@example.test", "c@example.test"];
    for (i, to) in addresses.iter().enumerate() {
        let next = addresses.get(i + 1).map(|n| address(n));
        mailer.send(0, &mail_to(to), next.as_ref()).await.unwrap();
    }
    for to in addresses {
        assert_whole(&mailbox, to);
    }
    assert_eq!(mailbox.count(), 3);
}

#[tokio::test]
async fn a_mail_announced_but_not_sent_is_never_delivered_nor_takes_another_s_text() {
    let mailbox = Mailbox::start();
    let mailer = mailer(&mailbox);
    // The lane expected b next; c came instead (b's mail failed to build,
    // or another lane took the connection).
    (mailer.send(
        0,
        &mail_to("a@example.test"),
        Some(&address("b@example.test")),
    ))
    .await
    .unwrap();
    mailer
        .send(0, &mail_to("c@example.test"), None)
        .await
        .unwrap();
    assert_whole(&mailbox, "a@example.test");
    assert_whole(&mailbox, "c@example.test");
    assert!(mailbox.mails_to("b@example.test").is_empty());
    // b's mail, when it comes, goes out as any other.
    mailer
        .send(0, &mail_to("b@example.test"), None)
        .await
        .unwrap();
    mailbox.wait_for("b@example.test", 1).await;
    assert_whole(&mailbox, "b@example.test");
    assert_eq!(mailbox.count(), 3);
}

#[tokio::test]
async fn the_next_recipient_s_refusal_is_its_own_mail_s_outcome() {
    let mailbox = Mailbox::start();
    let mailer = mailer(&mailbox);
    (mailer.send(
        0,
        &mail_to("a@example.test"),
        Some(&address("refused@example.test")),
    ))
    .await
    .expect("the mail before is sent");
    let refused = mailer
        .send(
            0,
            &mail_to("refused@example.test"),
            Some(&address("c@example.test")),
        )
        .await
        .expect_err("the refused address fails");
    assert!(refused.permanent, "{refused:?}");
    assert!(refused.message.contains("No such user"), "{refused:?}");
    mailer
        .send(0, &mail_to("c@example.test"), None)
        .await
        .unwrap();
    assert_whole(&mailbox, "a@example.test");
    assert_whole(&mailbox, "c@example.test");
    assert_eq!(mailbox.count(), 2);
}

#[tokio::test]
async fn a_server_slow_for_the_next_recipient_does_not_hold_the_mail_before() {
    let mailbox = Mailbox::start();
    let mailer = mailer(&mailbox);
    let started = Instant::now();
    // The server takes 10 s over a "slow" recipient.
    (mailer.send(
        0,
        &mail_to("a@example.test"),
        Some(&address("slow@example.test")),
    ))
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the mail before waited {:?} for the next one's answers",
        started.elapsed()
    );
    assert_whole(&mailbox, "a@example.test");
}
