//! CPU-bound work of the engine spread over the blocking threads: a list mapped in
//! one part per core, the results returned in the list's order.

/// Applies `f` to every item on blocking threads, in as many parts as there are
/// cores (at most eight), and returns the results in the order of `items`. The
/// async workers stay free to serve requests meanwhile. Fails only if a part
/// panicked.
pub(crate) async fn map_on_cores<T, R, F>(
    items: Vec<T>,
    f: F,
) -> Result<Vec<R>, tokio::task::JoinError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> R + Clone + Send + 'static,
{
    let count = items.len();
    let parts = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8);
    let per_part = count.div_ceil(parts).max(1);
    let mut tasks = Vec::with_capacity(parts);
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(per_part).collect();
        if part.is_empty() {
            break;
        }
        let f = f.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter().map(&f).collect::<Vec<R>>()
        }));
    }
    let mut out = Vec::with_capacity(count);
    for task in tasks {
        out.extend(task.await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1_001).collect();
        let doubled = map_on_cores(items, |i| i * 2).await.expect("no panic");
        assert_eq!(doubled, (0..1_001).map(|i| i * 2).collect::<Vec<u32>>());
        let none = map_on_cores(Vec::<u32>::new(), |i| i)
            .await
            .expect("no panic");
        assert!(none.is_empty());
    }
}
