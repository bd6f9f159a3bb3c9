//! Times the container scan of a workbook alone (benchmark aid).
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: scan FILE")?;
    let bytes = std::fs::read(&path)?;
    let t = Instant::now();
    let scan = importer::container::scan_zip(&bytes, &importer::ReadLimits::default())
        .map_err(|r| r.en)?;
    println!(
        "scan_s={:.3} unzipped={}",
        t.elapsed().as_secs_f64(),
        scan.unzipped
    );
    Ok(())
}
