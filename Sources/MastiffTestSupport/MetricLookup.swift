import MastiffCore

/// The value of one sample, by family name and exact label set (in any order); nil when absent.
public func sampleValue(_ families: [MetricFamily], _ name: String, _ labels: [Label] = []) -> Double? {
    let wanted = labels.sorted { $0.name < $1.name }
    for family in families where family.name == name {
        for sample in family.samples where sample.labels.sorted(by: { $0.name < $1.name }) == wanted {
            return sample.value
        }
    }
    return nil
}

/// The value of one series in exposition text, written as it appears (`name{label="v"}`).
public func sampleValue(_ exposition: String, _ series: String) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}
