//! Development tools of Pintu, kept out of the gateway's library: the social
//! platform simulator ([`sim`], also the `pintu-sim` binary) that the
//! integration tests and local demos use, and the load tools (`pintu-load`,
//! `pintu-mail-load`, `pintu-route-load`) behind README's benchmarks. They use
//! the `pintu` library as any client would.

pub mod sim;
